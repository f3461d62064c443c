from busybox as build
run true
