mkdir -p a/x1 a/x2 a/y1/b
echo 1 > a/x1/b; echo c1 > a/x1/c1; echo c2 > a/x2/c2
echo yb > a/y1/b/inner
echo top > a/file
