# Multi-stage build of mqnamesrv and mqbroker. The same build steps as the README:
# `cargo build --release -p namesrv -p broker`.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p namesrv -p broker --bin mqnamesrv --bin mqbroker

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /home/rocketmq --create-home rocketmq \
    && mkdir -p /home/rocketmq/store /home/rocketmq/conf \
    && chown -R rocketmq:rocketmq /home/rocketmq
COPY --from=build /src/target/release/mqnamesrv /src/target/release/mqbroker /usr/local/bin/
USER rocketmq
WORKDIR /home/rocketmq
ENV HOME=/home/rocketmq
VOLUME ["/home/rocketmq/store"]
EXPOSE 9876 10909 10911 10912
CMD ["mqnamesrv"]
