mkdir -p src/keep src/drop logs
echo k > src/keep/k; echo d > src/drop/d; echo l > logs/a.log; echo r > README.md; echo s > secret.env
echo m > src/main.log
printf 'logs\n*.env\nsrc/drop\n**/*.log\n!src/main.log\n' > .dockerignore
