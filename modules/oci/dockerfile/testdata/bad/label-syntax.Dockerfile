FROM scratch
LABEL novalue
