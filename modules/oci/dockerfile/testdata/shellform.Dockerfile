FROM scratch
USER nonroot
ENTRYPOINT /app --flag value
EXPOSE 80
