FROM base
COPY kept.txt /dst/
COPY --from=base secret.txt /from-a-stage
