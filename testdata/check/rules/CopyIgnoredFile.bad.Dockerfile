FROM base
COPY secret.txt kept.txt /dst/
