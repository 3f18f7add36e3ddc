import java.io.IOException;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only.
 *
 * <p>DynamoDB Local's own main class binds every interface and has no option to change that, so a
 * local ledger full of recipients' addresses would be reachable from the network. This launcher
 * builds the same server from the same command-line arguments, points its Jetty connectors at the
 * loopback address before they open, and starts it. It deliberately never configures telemetry.
 *
 * <p>With {@code -Dgift-batch.exitWhenStdinCloses=true} it also exits when its standard input
 * closes, which happens when the Node.js process that started it dies, even by SIGKILL: a crashed
 * test run or CLI then leaves no server behind.
 */
public final class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";

  public static void main(String[] args) throws Exception {
    if (Boolean.getBoolean("gift-batch.exitWhenStdinCloses")) {
      exitWhenStdinCloses();
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    // The Jetty server is a private field with no accessor; reflection is the only way in.
    Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
    serverField.setAccessible(true);
    Server jetty = (Server) serverField.get(proxy);
    int bound = 0;
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof AbstractNetworkConnector networkConnector) {
        networkConnector.setHost(LOOPBACK);
        bound++;
      }
    }
    if (bound == 0) {
      // Refuse rather than silently listen on every interface.
      System.err.println("LoopbackDynamoDbLocal: no network connector found to bind to " + LOOPBACK);
      System.exit(2);
    }
    try {
      proxy.start();
    } catch (Exception failure) {
      // One line with the cause chain reads better in the caller's error than a stack trace.
      StringBuilder reason = new StringBuilder(failure.toString());
      for (Throwable cause = failure.getCause(); cause != null; cause = cause.getCause()) {
        reason.append(" (caused by ").append(cause).append(')');
      }
      System.err.println("DynamoDB Local could not start: " + reason);
      System.exit(1);
    }
  }

  private static void exitWhenStdinCloses() {
    Thread watcher =
        new Thread(
            () -> {
              try {
                while (System.in.read() != -1) {
                  // Nothing is ever sent; reading only detects the end of the stream.
                }
              } catch (IOException closed) {
                // A broken pipe means the parent is gone, the same as end of stream.
              }
              System.exit(0);
            },
            "exit-when-stdin-closes");
    watcher.setDaemon(true);
    watcher.start();
  }
}
