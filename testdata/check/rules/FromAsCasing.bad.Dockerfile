from busybox AS build
run true
