set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set grid
set key top left
set output "proxies.png"
set title "Latency added over going straight to the nodes (median of runs)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "added latency, ms"
set logscale y
plot "proxies.dat" using 2:xtic(1) title "chat-balancer p50", "" using 3 title "HAProxy p50", \
     "" using 4 title "chat-balancer p99", "" using 5 title "HAProxy p99"