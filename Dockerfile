# focusflow: one image, one CLI (`focusflow exporter|scraper|k8s-export|operator|...`).
# Build:  docker build -t ghcr.io/focusflow/focusflow:0.1.0 .
#         (or: podman build / buildah bud / kaniko with the same context)
# Checked in CI without a container engine by hadolint (tests/unit/operator/test_deploy.py).

# ---- build stage: a wheel and its dependencies into a virtualenv --------------------------
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/focusflow
COPY pyproject.toml README.md ./
COPY src ./src
# The CRDs go into the wheel: `operator render` prunes and defaults with their schemas.
COPY deploy/crds ./deploy/crds
# The runtime extras the operator's children use; plots and dev tools stay out of the image.
RUN /opt/focusflow/bin/pip install ".[postgres,delta,databricks,azure,k8s]"

# ---- runtime stage: the virtualenv only, non-root, read-only root filesystem friendly -------
FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="focusflow" \
      org.opencontainers.image.source="https://github.com/focusflow/focusflow" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/focusflow/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
COPY --from=build /opt/focusflow /opt/focusflow
# 65532: the uid the rendered pods' securityContext expects (runAsNonRoot).
RUN groupadd --gid 65532 focusflow \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin focusflow
USER 65532:65532
EXPOSE 2112 8080
# No CMD: a start without arguments is `focusflow` alone, which runs k8s-export when Finout's
# CronJob variables (CLUSTER_NAME, S3_BUCKET) are set - so Finout's CronJob with only the image
# swapped exports - and otherwise exits 2 with one error line (never "help, exit 0" for a Job).
ENTRYPOINT ["focusflow"]
