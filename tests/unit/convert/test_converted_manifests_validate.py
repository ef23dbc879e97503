"""What the converter writes is a manifest gitberth accepts: every field it emits exists in the
manifest model with the meaning the converter gives it (the contract of issue 9)."""

from __future__ import annotations

import pytest

from gitberth.convert.render import manifest_yaml
from gitberth.core.manifests import parse_manifest
from tests.unit.convert.snippets import convert

REALISTIC = """
name: shop
x-defaults: &defaults
  restart: unless-stopped
  logging: {driver: json-file}
services:
  web:
    <<: *defaults
    image: acme/web:1.4
    command: ["gunicorn", "-b", "0.0.0.0:8000", "shop.wsgi"]
    entrypoint: /docker-entrypoint.sh
    environment:
      DJANGO_SETTINGS_MODULE: shop.settings
      DB_HOST: db
    env_file: .env
    ports: ["127.0.0.1:8000:8000", "9100"]
    volumes:
      - static:/app/static:ro
      - ./media:/app/media
    networks: [default, proxy]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
      interval: 5s
      timeout: 2s
      retries: 3
      start_period: 10s
    labels:
      traefik.enable: "true"
      traefik.http.routers.shop.rule: Host(`shop.example`)
    user: "1000:1000"
    working_dir: /app
    stop_signal: SIGINT
    stop_grace_period: 30s
    depends_on: [db]
    secrets: [django_key]
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 512M, pids: 256}
  worker:
    <<: *defaults
    image: acme/web:1.4
    command: celery -A shop worker
    scale: 2
    mem_limit: 256m
    privileged: true
  db:
    image: postgres:16
    restart: always
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    volumes: [pgdata:/var/lib/postgresql/data]
    secrets: [db_password]
    healthcheck:
      test: pg_isready -U postgres
      interval: 2s
    pids_limit: 200
    cap_add: [SYS_ADMIN]
volumes:
  pgdata: {}
  static: {}
networks:
  proxy: {external: true}
secrets:
  django_key: {file: ./secrets/django_key}
  db_password: {environment: DB_PASSWORD}
"""

SNIPPETS = {
    "ports short": 'services: {web: {image: a, ports: ["8080:80"]}}',
    "ports list": 'services: {web: {image: a, ports: ["0.0.0.0:80:80", "443"]}}',
    "replicas and host ports": 'services: {web: {image: a, ports: ["80:80"], scale: 3}}',
    "start-first with a volume": "services: {web: {image: a, volumes: [d:/d], deploy: "
    "{update_config: {order: start-first}}}}\nvolumes: {d: {}}",
    "stop-first with a host port": 'services: {web: {image: a, ports: ["80:80"], volumes: '
    "[d:/d]}}\nvolumes: {d: {}}",
    "restart no": "services: {web: {image: a, restart: 'no'}}",
    "bind": "services: {web: {image: a, volumes: ['/srv/apps/web:/data:ro']}}",
    "healthcheck shell": "services: {web: {image: a, healthcheck: {test: 'true'}}}",
    "external network": "services: {web: {image: a, networks: [edge]}}\n"
    "networks: {edge: {external: true}}",
    "build only": "services: {web: {build: .}}",
    "memory bytes": "services: {web: {image: a, mem_limit: 67108864}}",
}


@pytest.mark.parametrize(
    "text", [REALISTIC, *SNIPPETS.values()], ids=["realistic", *SNIPPETS.keys()]
)
def test_the_converted_manifest_validates(text: str) -> None:
    conversion = convert(text, app="shop")

    manifest = parse_manifest(
        manifest_yaml(conversion, source="compose.yaml", schema="s.json"), file="apps/shop.yaml"
    )

    assert manifest.name == "shop"
    assert [s.service for s in manifest.service_specs()] == [
        s["name"] for s in conversion.manifest["services"]
    ]
