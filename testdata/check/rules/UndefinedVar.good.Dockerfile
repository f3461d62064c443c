FROM base AS parent
ARG DECLARED
ARG FROM_PARENT
ENV KNOWN=1
ENV X=$KNOWN Y=$DECLARED Z=$PATH
RUN echo $ONLY_THE_SHELL_SEES_THIS

FROM parent
# An ARG of the stage this one is built on is defined here too.
ENV W=$FROM_PARENT
