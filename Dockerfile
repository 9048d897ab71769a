# One image for the API, the workers and the migration step.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events_svc ./events_svc
COPY workers ./workers
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 app
USER app
EXPOSE 8000
CMD ["events-svc", "serve", "--host", "0.0.0.0", "--port", "8000"]
