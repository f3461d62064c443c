mkdir -p inner && echo ctx-inner > inner/marker && ln -s /inner ctxlink
