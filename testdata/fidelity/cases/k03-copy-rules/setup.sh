mkdir -p dir/sub/deeper dir/empty
echo a > dir/a
echo b > dir/sub/b
echo c > dir/sub/deeper/c
chmod 750 dir/sub
chmod 4755 dir/a
ln -s a dir/link-a
ln -s /etc/passwd dir/abs-link
echo file > file.txt
echo other > other.txt
ln -s file.txt link-to-file
ln dir/sub/b dir/hard-b
