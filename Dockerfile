# One image for the hub, its Airflow services and the simulators.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv
WORKDIR /opt/hub
# HUB_EXTRAS=celery adds the Celery provider (docker-compose.celery.yml)
ARG HUB_EXTRAS=""
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project ${HUB_EXTRAS:+--extra $HUB_EXTRAS}
COPY . .
RUN uv sync --frozen --no-dev ${HUB_EXTRAS:+--extra $HUB_EXTRAS}
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/hub/dags AIRFLOW__CORE__LOAD_EXAMPLES=False HUB_HOME=/var/lib/hub
CMD ["hub", "--help"]
