# want: parsing Dockerfile: dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)
FORM scratch
