FROM busybox AS base
WORKDIR /app
FROM base
WORKDIR sub
