# training-eta-exporter image: the exporter (default command) and the simulated trainer of docker-compose.
#   docker build -t training-eta-exporter:0.1.0 .
#   docker run --rm -v /path/to/logs:/logs:ro -p 9787:9787 training-eta-exporter:0.1.0 serve --log /logs/train.log
FROM python:3.12.8-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# /logs and the state directory are owned by the unprivileged user so that a named volume mounted there starts
# writable (Docker copies the image's ownership into an empty volume).
RUN pip install . \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin exporter \
    && mkdir /logs /var/lib/training-eta-exporter \
    && chown 10001:10001 /logs \
    && chown 10001:10001 /var/lib/training-eta-exporter && chmod 700 /var/lib/training-eta-exporter

USER 10001:10001
EXPOSE 9787
# slim images have no curl: probe /healthz with the interpreter that is already there
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["training-eta-exporter", "healthcheck", "--port", "9787"]
ENTRYPOINT ["training-eta-exporter"]
CMD ["serve", "--log", "/logs/train.log"]
