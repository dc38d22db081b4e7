set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set grid
set key top left
set output "throughput-by-rate.png"
set title "Deliveries/s and p99 against offered deliveries/s (median of runs)"
set xlabel "offered deliveries/s"
set ylabel "deliveries/s"
set y2label "p99 ms"
set y2tics
set logscale y2
set format x "%.1s%c"
set format y "%.1s%c"
plot "throughput-by-rate.dat" using 1:1 with lines dashtype 2 title "offered", \
     "" using 1:2 with linespoints title "delivered/s", "" using 1:3 axes x1y2 with linespoints title "p99 ms"