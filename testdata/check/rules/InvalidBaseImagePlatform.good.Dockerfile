FROM base
COPY kept.txt /dst/
