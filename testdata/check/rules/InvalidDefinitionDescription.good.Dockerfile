# check=skip=all;experimental=InvalidDefinitionDescription
# VERSION the version to ship
ARG VERSION=1

# builder compiles the sources
FROM busybox AS builder

# a note that is not a description
#
ARG TARGETS=all

# B is the second of two keys
ARG A=1 B=2

# a note above something else
COPY src /src
