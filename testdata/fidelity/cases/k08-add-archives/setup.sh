mkdir -p t/inner && echo in > t/inner/file && chmod 600 t/inner/file && ln -s file t/inner/link
tar --owner=7 --group=8 -cf plain.tar -C t inner
tar -czf packed.tar.gz -C t .
echo not a tarball > notatar.txt.gz
mkdir -p dir && echo x > dir/x
rm -rf t
