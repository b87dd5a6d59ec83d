# One image for every PAHT service: `paht serve <service>`, `paht migrate`, `paht edge`.
# Built in CI/CD where a Docker engine runs (deploy/k8s/base uses it); the embedded run needs no image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py paht_build.py README.md LICENSE ./
COPY proto ./proto
COPY paht ./paht
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin paht
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
ENV PAHT_ENV=production PYTHONUNBUFFERED=1 MALLOC_ARENA_MAX=2
EXPOSE 8000 50051
ENTRYPOINT ["paht"]
CMD ["serve", "intake"]
