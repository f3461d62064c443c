from busybox
run true
workdir /app
