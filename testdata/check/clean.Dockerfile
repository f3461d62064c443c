# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
RUN --mount=type=cache,target=/root/.cache echo building > /out
FROM scratch
COPY --from=build /out /out
CMD ["/out"]
