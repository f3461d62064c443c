mkdir -p t/sub && echo inner > t/sub/inner.txt && tar -cf t.tar -C t sub && zstd -q --rm t.tar -o t.tar.zst && rm -rf t
