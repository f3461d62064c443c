echo f > f; mkdir -p d/e/g && echo x > d/e/x && chmod 700 d/e
