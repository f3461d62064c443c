# check=experimental=InvalidDefinitionDescription
# release the version to ship
ARG VERSION=1
# Builder compiles the sources
FROM busybox AS builder
# a note that describes nothing
ARG TARGETS=all
# a note above several keys
ARG A=1 B=2
