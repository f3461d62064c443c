mkdir -p src/test src/a/test/x keep lib/vendor/deep
echo 1 > src/main.c; echo 2 > src/test/t.c; echo 3 > src/a/test/x/t2.c; echo 4 > README.md; echo 5 > keep/k; echo 6 > other
echo 7 > lib/vendor/deep/v; echo 8 > lib/l
echo 9 > 'sp ace'
cat > .dockerignore <<'IG'
*
!src
!*.md
src/**/test
!keep/
lib
!lib/vendor/deep/v
!sp?ace
IG
