FROM busybox AS build
RUN echo a \

    echo b
FROM busybox
COPY --from=biuld /a /a
