echo f > f; mkdir -p d/e; echo x > d/e/x
mkdir -p tt/q && echo q > tt/q/q && tar -cf t.tar -C tt . && rm -rf tt
