echo f > f
mkdir -p d/x && echo y > d/x/y
