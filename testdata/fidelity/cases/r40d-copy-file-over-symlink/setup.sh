mkdir -p d/sub && echo new > d/sub/file && echo top > d/top && echo f > f
