echo a > a && echo b > b && echo t1 > t1.txt && echo t2 > t2.txt
