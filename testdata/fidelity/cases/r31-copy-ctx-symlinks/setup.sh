mkdir -p d/inner && echo f > d/f && echo i > d/inner/i
ln -s d linkd
ln -s ../../d/f up
ln -s /d/f abs
ln -s ../outside d/out-link
ln -s inner d/inner-link
ln -s d/f lnkfile
