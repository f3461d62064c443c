mkdir -p a/b/c docs/inner build/keep x/y
echo 1 > a/b/c/deep.tmp; echo 2 > a/top.tmp; echo 3 > root.tmp; echo 4 > a/b/keep.txt
echo d > docs/inner/doc.md; echo r > docs/README.md
echo k > build/keep/k; echo o > build/other
echo y > x/y/z
echo h > .hidden
cat > .dockerignore <<'IG'
# comment
**/*.tmp
!a/b/c/deep.tmp
docs
!docs/README.md
/build
!build/keep
./x/y/
Dockerfile
.dockerignore
  .hidden  
IG
