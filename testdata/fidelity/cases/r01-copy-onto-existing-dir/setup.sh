echo new > f
mkdir -p d/sub && echo x > d/x && echo y > d/sub/y && chmod 700 d && chmod 750 d/sub
