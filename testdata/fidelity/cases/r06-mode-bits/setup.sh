mkdir -p m/d0 m/d7 m/sub
echo z > m/zero; chmod 0000 m/zero
echo s > m/all; chmod 7777 m/all
echo g > m/setgid; chmod 2751 m/setgid
echo x > m/sub/x; chmod 0400 m/sub/x
chmod 0 m/d0; chmod 1777 m/d7; chmod 3700 m/sub
