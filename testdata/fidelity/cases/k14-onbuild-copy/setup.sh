mkdir -p payload && echo 1 > payload/one && echo 2 > payload/two
