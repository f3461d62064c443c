echo p > payload
