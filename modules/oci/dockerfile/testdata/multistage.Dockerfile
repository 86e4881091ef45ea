# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26.8
ARG PORT=8080
FROM golang:${GO_VERSION} AS build
USER root
ENTRYPOINT ["/bin/false"]
EXPOSE 9999
LABEL stage=build

FROM scratch AS runtime
ARG PORT
ARG APP=/usr/local/bin/hello
ENV APP_PORT=$PORT \
    LOG_FORMAT=json
COPY --from=build /out/hello ${APP}
USER 65532:65532
WORKDIR /
EXPOSE ${PORT} 9090/udp
LABEL org.opencontainers.image.title="hello" \
      org.opencontainers.image.source=https://example.com/hello
LABEL org.opencontainers.image.description="a tiny \"test\" service"
CMD ["--ignored"]
ENTRYPOINT ["/usr/local/bin/hello"]
CMD ["serve"]
