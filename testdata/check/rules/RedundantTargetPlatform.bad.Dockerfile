FROM --platform=$TARGETPLATFORM busybox
