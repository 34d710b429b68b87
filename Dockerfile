# syntax=docker/dockerfile:1
#
# tokenwarden: a static, CGO-free binary on distroless (no shell, no package
# manager, CA certificates included), running as uid/gid 65532 (nonroot).
#
#   docker build -t tokenwarden .
#   docker run --rm -p 8080:8080 -v "$PWD/tokenwarden.yaml:/etc/tokenwarden/tokenwarden.yaml:ro" tokenwarden
#
# The configuration must listen on 0.0.0.0 (server.addr, server.admin_addr)
# to be reachable from outside the container; see configs/kubernetes/.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /tokenwarden ./cmd/tokenwarden

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /tokenwarden /tokenwarden
# Numeric, so that runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
# 8080: validate API (/v1/validate, /v1/auth, /healthz, /readyz).
# 8081: admin (/metrics, revocation endpoints); never expose it publicly.
EXPOSE 8080 8081
ENTRYPOINT ["/tokenwarden"]
CMD ["serve", "--config", "/etc/tokenwarden/tokenwarden.yaml"]
