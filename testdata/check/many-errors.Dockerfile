FROM busybox AS build
RUN --mount=type=cahce,target=/cache make
COPPY src /src
COPY --from=$BUILDER /out /out
COPY --chmod=999 only-one
FROM build
COPY --from=Buidl /a /b
COPY --from=7 /a /b
COPY --frm=build /a /b
