mkdir -p names/"with space" names/ünïcødé names/日本語
echo 1 > "names/with space/file name.txt"
echo 2 > names/ünïcødé/ß
echo 3 > names/日本語/ファイル
long=$(printf 'a%.0s' $(seq 1 250))
echo 4 > "names/$long"
p=names; for i in 1 2 3 4 5 6; do p="$p/$(printf 'd%.0s' $(seq 1 40))$i"; done; mkdir -p "$p"; echo 5 > "$p/$(printf 'f%.0s' $(seq 1 120))"
echo 6 > "names/tab	in"
echo 7 > 'names/quote"s'
echo 8 > 'names/back\slash'
echo 9 > 'names/star*'
mkdir -p names/emptydir names/emptydir2/inner
echo h > names/h1; ln names/h1 "names/with space/h2"
