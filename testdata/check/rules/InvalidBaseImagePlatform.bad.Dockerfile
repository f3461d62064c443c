FROM arm64only
COPY kept.txt /dst/
