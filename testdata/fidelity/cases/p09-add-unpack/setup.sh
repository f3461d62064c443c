mkdir -p t && echo inner > t/inner.txt && tar -czf t.tar.gz -C t inner.txt && rm -rf t
