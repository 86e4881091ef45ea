# want: stage 2: FROM ${BASE_IMAGE}: the default of ARG BASE_IMAGE must be pinned by digest (name@sha256:<64 hex>)
ARG GO_IMAGE=golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot
FROM ${GO_IMAGE} AS build
ARG GIT_SHA
ARG BUILD_TS
RUN go build -ldflags "-X main.gitSHA=${GIT_SHA} -X main.buildTS=${BUILD_TS}" -o /out/app ./cmd/app
FROM ${BASE_IMAGE}
ARG GIT_SHA
ARG BUILD_TS
LABEL org.opencontainers.image.source="https://example.invalid/app" org.opencontainers.image.revision="${GIT_SHA}" org.opencontainers.image.created="${BUILD_TS}"
COPY --from=build /out/app /app
USER 65532:65532
EXPOSE 9000
ENTRYPOINT ["/app"]
