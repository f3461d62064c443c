mkdir -p t && echo o > t/f && tar --owner=11 --group=12 --numeric-owner -cf own.tar -C t f && rm -rf t
