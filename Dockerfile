# cohortd server image: build the wheel (Rust kernel + Python package), run it slim.

FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
ENV PATH=/root/.cargo/bin:$PATH
RUN pip install --no-cache-dir maturin==1.16.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rust ./rust
COPY python ./python
RUN maturin build --release --out /wheels

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data cohortd \
 && mkdir -p /data && chown cohortd /data
COPY --from=build /wheels /wheels
# the console extra brings the HTTP/JSON API and web console (`serve --http`)
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[console]" && rm -rf /wheels
USER cohortd
VOLUME /data
EXPOSE 50051 8080
# SIGTERM drains in-flight calls and flushes the log before exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cohortd"]
CMD ["serve", "--data", "/data", "--listen", "0.0.0.0:50051", "--http", "0.0.0.0:8080"]
