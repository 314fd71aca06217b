# container-doctor's image: the static binary and nothing else (no shell, no libc, no package
# manager). `--check --interval SECONDS` is the DaemonSet's loop, so nothing else is needed.
#
# Two ways to build it (DOCKER_BUILDKIT=1; no `# syntax=` line, so no frontend image is pulled):
#
#   Where no registry is reachable (the default target; what the tests build): build the static
#   binary on the machine first, then copy it in.
#     bin=$(scripts/static)
#     DOCKER_BUILDKIT=1 docker build --target from-binary --build-arg BINARY="${bin#"$PWD"/}" \
#       -t container-doctor:0.1.0 .
#
#   Where the rust image can be pulled: compile inside the build, with the locked dependencies.
#     DOCKER_BUILDKIT=1 docker build --target build -t container-doctor:0.1.0 .
#
# The image runs as nobody by default. The DaemonSet (assets/deploy/daemonset.yaml) runs it as
# root with every capability dropped but SYS_PTRACE and DAC_READ_SEARCH: overlay-busy and zombies
# read other processes' /proc/PID/{fd,cwd,root,maps}, which takes CAP_SYS_PTRACE and the
# processes' uid or root; see the manifest for each one's reason.

# The version the labels name (Cargo.toml's), and the licence: the project has declared none yet.
ARG VERSION=0.1.0
ARG LICENSES=NOASSERTION

# Compiles the static binary (glibc, static-pie) exactly as scripts/static does.
FROM docker.io/library/rust:1-bookworm AS compile
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY assets assets
COPY scripts/static scripts/static
RUN cp "$(scripts/static)" /container-doctor

# What both images share: metadata only.
FROM scratch AS base
ARG VERSION
ARG LICENSES
LABEL org.opencontainers.image.title="container-doctor" \
      org.opencontainers.image.description="Examines a Linux host used to build and run containers, says what is wrong and why" \
      org.opencontainers.image.source="https://github.com/container-doctor/container-doctor" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="${LICENSES}"
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/container-doctor"]
CMD ["--check"]

# The image from the compile stage above (needs the rust image).
FROM base AS build
COPY --from=compile /container-doctor /usr/local/bin/container-doctor

# The image from a binary built beforehand by scripts/static; BINARY is its path in the context.
FROM base AS from-binary
ARG BINARY=target/x86_64-unknown-linux-gnu/release/container-doctor
COPY ${BINARY} /usr/local/bin/container-doctor
